export * from './types.ts';
export { defineTraining } from './define.ts';
