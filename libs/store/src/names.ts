import { randomInt } from 'node:crypto';

// Readable default run names, as MLflow and W&B give them: easier to say aloud than a UUID.
const ADJECTIVES = ['amber', 'bold', 'brisk', 'calm', 'clever', 'crisp', 'dapper', 'eager', 'fleet', 'gentle', 'glad', 'keen', 'lucid', 'merry', 'nimble', 'placid', 'quiet', 'rapid', 'steady', 'sunny', 'tidy', 'vivid', 'witty', 'zesty'];
const NOUNS = ['badger', 'cairn', 'comet', 'falcon', 'fern', 'fjord', 'gecko', 'heron', 'ibex', 'lark', 'lynx', 'maple', 'otter', 'pebble', 'quartz', 'raven', 'ridge', 'sparrow', 'summit', 'tern', 'thistle', 'vole', 'willow', 'yak'];

export function randomRunName(): string {
  const a = ADJECTIVES[randomInt(ADJECTIVES.length)];
  const n = NOUNS[randomInt(NOUNS.length)];
  return `${a}-${n}-${randomInt(1000)}`;
}
