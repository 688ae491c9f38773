export { buildProgram, main } from './main.ts';
export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './errors.ts';
