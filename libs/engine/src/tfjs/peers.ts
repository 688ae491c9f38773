import { ValidationError } from '@cairn/schema';

/**
 * tfjs is a peer of the engine: the user's project installs it once, and the engine, the
 * definition and the backends share that copy. This file must not import tfjs itself: it
 * explains what to do when tfjs is absent.
 */

/** The tfjs version the engine is built and tested against (libs/engine/package.json's peers; a test keeps them equal). */
export const TFJS_VERSION = '4.22.0';

/** The engine's tfjs peers, as one install line names them. */
export const TFJS_PEERS = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-data', '@tensorflow/tfjs-backend-cpu'] as const;

/** The command that installs every tfjs peer at the engine's version. */
export const TFJS_INSTALL = `npm install ${TFJS_PEERS.map((p) => `${p}@${TFJS_VERSION}`).join(' ')}`;

/** tfjs (or one of its packages) cannot be loaded. */
export class TfjsMissingError extends ValidationError {
  constructor(
    readonly packageName: string,
    context: string,
    options?: { cause?: unknown },
  ) {
    super(`${context}: ${packageName} is not installed; @cairn/engine needs tfjs as a peer: ${TFJS_INSTALL}`, options);
  }
}

/** A definition built its model or tensors with a different tfjs copy than the engine's. */
export class TfjsCopiesError extends ValidationError {}

/** The tfjs package a module-not-found error names, or null when the error is something else. */
export function missingTfjsPackage(error: unknown): string | null {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (!e || (e.code !== 'ERR_MODULE_NOT_FOUND' && e.code !== 'MODULE_NOT_FOUND') || typeof e.message !== 'string') return null;
  // Node: "Cannot find package '@tensorflow/tfjs-core' imported from ..." or "Cannot find module '@tensorflow/tfjs-core/...'".
  const m = /Cannot find (?:package|module) '(@tensorflow\/[a-z0-9-]+)/.exec(e.message);
  return m ? m[1]! : null;
}

/**
 * Loads the engine (or anything that imports tfjs) so that a missing tfjs ends in one line
 * naming the package and the install command, not in Node's bare module-not-found. A static
 * import of a missing package fails before any engine code runs, so callers that must say
 * so load the engine through this function.
 */
export async function importWithTfjs<T>(load: () => Promise<T>, context = 'cannot load @cairn/engine'): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const missing = missingTfjsPackage(e);
    if (missing) throw new TfjsMissingError(missing, context, { cause: e });
    throw e;
  }
}

/** The engine's tfjs classes a definition's objects are checked against. */
export interface TfjsClasses {
  Tensor: abstract new (...args: never[]) => unknown;
  LayersModel: abstract new (...args: never[]) => unknown;
}

const FIX = "import tfjs only through `import { tf } from '@cairn/engine'` in the definition, or make the project install one tfjs copy (`npm ls @tensorflow/tfjs-core`, then `npm dedupe` or " + TFJS_INSTALL + ')';

/**
 * Whether a definition's model and tensors come from the engine's tfjs. tfjs-core shares
 * its engine between copies, but not its classes: a model built by a second tfjs-layers or
 * tensors whose class lacks the engine's chained ops fail later with errors that name
 * neither copy. Tensors are checked by prototype (tfjs's own `instanceof Tensor` accepts
 * anything tensor-shaped, whatever its copy).
 */
export function checkOneTfjs(found: { model?: unknown; tensors?: unknown[] }, engine: TfjsClasses, file = 'the definition'): TfjsCopiesError | null {
  const model = found.model as { fit?: unknown; compile?: unknown } | null | undefined;
  if (model && typeof model === 'object' && !(model instanceof engine.LayersModel)) {
    const looksLikeModel = typeof model.fit === 'function' && typeof model.compile === 'function';
    return new TfjsCopiesError(
      looksLikeModel
        ? `${file}: model() returned a model from a different copy of @tensorflow/tfjs-layers than @cairn/engine's: ${FIX}`
        : `${file}: model() must return a tfjs LayersModel (tf.sequential() or tf.model() from @cairn/engine)`,
    );
  }
  for (const t of found.tensors ?? []) {
    if (!t || typeof t !== 'object' || !('dataSync' in t)) continue; // a tf.data Dataset, not a tensor
    if (!Object.prototype.isPrototypeOf.call(engine.Tensor.prototype, t)) {
      return new TfjsCopiesError(`${file}: data() returned tensors from a different copy of @tensorflow/tfjs-core than @cairn/engine's: ${FIX}`);
    }
  }
  return null;
}
