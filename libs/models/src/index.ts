export { parseModelRef, formatModelRef, type ModelRef } from './ref.ts';
export { MODEL_FILES, FILES_FORMAT, putModelFiles, readModelFiles, readModelBytes, type ModelFiles, type ModelFile } from './files.ts';
export { registerRunModel, type RegisterOptions } from './register.ts';
export { packageModel, resolveRef, loadModelVersion, type PackageOptions } from './package.ts';
export { startModelServer, type ModelServer, type ModelServerOptions } from './serve/index.ts';
