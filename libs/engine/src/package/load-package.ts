import fs from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { InvalidStateError, NotFoundError, StoreDamagedError, ValidationError, formatZodError } from '@cairn/schema';
import type { ModelCard } from '../export.ts';
import { checkCard, exampleShape, parseInputSchema, type InputSchema } from './input-schema.ts';
import { MANIFEST_FILE, PACKAGE_FILES, PACKAGE_FORMAT, manifestSchema, modelJsonSchema, sha256, type PackageFile, type PackageManifest } from './manifest.ts';
import { decode, outputModeOf, runModel, type Prediction } from './predict.ts';
import { concatInputs, validateInput, type ValidatedInput, type ValidateOptions } from './validate-input.ts';

export interface LoadPackageOptions {
  /** Most rows or instances one request may carry (predict and validate). Default 1024. */
  maxBatch?: number;
}

export interface PackagedModel {
  readonly dir: string;
  readonly model: tfl.LayersModel;
  readonly card: ModelCard;
  readonly schema: InputSchema;
  readonly manifest: PackageManifest;
  /** Validates and normalises one request (throws a ValidationError); no model call. */
  validate(input: unknown): ValidatedInput;
  /** validate + one model call: `{ rows: [...] }` for a table model, `{ instances: [...] }` otherwise. */
  predict(input: unknown): Promise<Prediction[]>;
  /**
   * Several validated requests in one model call (a server's micro-batch); returns each
   * request's predictions, in the order given.
   */
  predictBatch(inputs: readonly ValidatedInput[]): Promise<Prediction[][]>;
  dispose(): void;
}

const damaged = (dir: string, file: string, why: string) => new StoreDamagedError(`model package ${dir}: ${file} ${why}; rebuild the package`);

/** A listed file's bytes, refused unless they match the manifest's size and sha256. */
async function readVerified(dir: string, file: PackageFile, manifest: PackageManifest): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path.join(dir, file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw damaged(dir, file, 'is missing');
    throw e;
  }
  const want = manifest.files[file];
  if (bytes.length !== want.size) throw damaged(dir, file, `has ${bytes.length} bytes, the manifest says ${want.size}`);
  const got = sha256(bytes);
  if (got !== want.sha256) throw damaged(dir, file, `is corrupt: its sha256 is ${got}, the manifest says ${want.sha256}`);
  return bytes;
}

function parseJson(dir: string, file: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw damaged(dir, file, `is not valid JSON (${(e as Error).message})`);
  }
}

async function readManifest(dir: string): Promise<PackageManifest> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path.join(dir, MANIFEST_FILE));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError('model package', `${dir} (no ${MANIFEST_FILE})`);
    throw e;
  }
  const json = parseJson(dir, MANIFEST_FILE, bytes);
  const format = (json as { format?: unknown } | null)?.format;
  if (format !== PACKAGE_FORMAT) throw new ValidationError(`model package ${dir}: ${MANIFEST_FILE} has format ${JSON.stringify(format)}; this loader reads ${PACKAGE_FORMAT}`);
  const r = manifestSchema.safeParse(json);
  if (!r.success) throw new ValidationError(`model package ${dir}: ${MANIFEST_FILE}: ${formatZodError(r.error)}`);
  return r.data as PackageManifest;
}

/**
 * Loads a package written by writePackage. Every file is checked against the manifest's
 * size and sha256 before any is used, so a damaged package fails here (StoreDamagedError
 * naming the file) rather than predicting with wrong weights. Needs a tfjs backend set.
 */
export async function loadPackagedModel(dir: string, options: LoadPackageOptions = {}): Promise<PackagedModel> {
  const manifest = await readManifest(dir);
  const bytes = {} as Record<PackageFile, Uint8Array>;
  for (const f of PACKAGE_FILES) bytes[f] = await readVerified(dir, f, manifest);

  const mj = modelJsonSchema.safeParse(parseJson(dir, 'model.json', bytes['model.json']));
  if (!mj.success) throw new ValidationError(`model package ${dir}: model.json: ${formatZodError(mj.error)}`);
  const card = checkCard(parseJson(dir, 'card.json', bytes['card.json']), `model package ${dir}: card.json`);
  const schema = parseInputSchema(parseJson(dir, 'input-schema.json', bytes['input-schema.json']), `model package ${dir}: input-schema.json`);

  const w = bytes['weights.bin'];
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: mj.data.modelTopology as tf.io.ModelJSON['modelTopology'],
        weightSpecs: mj.data.weightsManifest[0]!.weights as tf.io.WeightsManifestEntry[],
        // A copy: readFile's buffer may be a slice of a larger shared one.
        weightData: w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength) as ArrayBuffer,
      }),
    );
  } catch (e) {
    throw new ValidationError(`model package ${dir}: tfjs could not load model.json with weights.bin: ${(e as Error).message}`, { cause: e });
  }
  let mode: ReturnType<typeof outputModeOf>;
  try {
    checkInputShape(model, schema);
    mode = outputModeOf(model, schema);
  } catch (e) {
    model.dispose();
    if (e instanceof ValidationError) throw new ValidationError(`model package ${dir}: ${e.message}`);
    throw e;
  }

  const validateOptions: ValidateOptions = { maxBatch: options.maxBatch };
  let disposed = false;
  const predictBatch = async (inputs: readonly ValidatedInput[]): Promise<Prediction[][]> => {
    if (disposed) throw new InvalidStateError(`model package ${dir} was disposed`);
    const joined = concatInputs(schema, inputs);
    const { out, width } = await runModel(model, joined.values, joined.shape);
    const all = decode(mode, schema, out, width);
    // Split back into each request's rows, in the order the requests were given.
    let at = 0;
    return joined.rows.map((n) => all.slice(at, (at += n)));
  };
  return {
    dir,
    model,
    card,
    schema,
    manifest,
    validate: (input) => validateInput(schema, input, validateOptions),
    predict: async (input) => (await predictBatch([validateInput(schema, input, validateOptions)]))[0]!,
    predictBatch,
    dispose() {
      if (disposed) return;
      disposed = true;
      model.dispose();
    },
  };
}

/** The schema's example shape must be what the model takes, or every request would fail inside tfjs. */
function checkInputShape(model: tfl.LayersModel, schema: InputSchema): void {
  if (model.inputs.length !== 1) throw new ValidationError(`the model has ${model.inputs.length} inputs; a packaged model must have one`);
  const modelShape = model.inputs[0]!.shape.slice(1);
  const want = exampleShape(schema);
  const fits = modelShape.length === want.length && modelShape.every((d, i) => d === null || d === want[i]);
  if (!fits) throw new ValidationError(`input-schema.json expects examples shaped [${want.join(', ')}] but the model takes [${modelShape.map(String).join(', ')}]`);
}
