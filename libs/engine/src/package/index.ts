export { writePackage, type PackageInput, type WritePackageOptions } from './write-package.ts';
export { loadPackagedModel, type LoadPackageOptions, type PackagedModel } from './load-package.ts';
export { inputSchemaFromCard, parseInputSchema, type InputSchema, type TableInputSchema, type TensorInputSchema } from './input-schema.ts';
export { validateInput, concatInputs, DEFAULT_MAX_BATCH, type ValidatedInput, type ValidateOptions } from './validate-input.ts';
export type { Prediction, ClassPrediction, ValuePrediction, ValuesPrediction } from './predict.ts';
export { PACKAGE_FORMAT, PACKAGE_FILES, MANIFEST_FILE, type PackageManifest, type PackageFile, type FileEntry } from './manifest.ts';
