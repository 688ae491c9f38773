export { workerMain, workerProgram } from './main.ts';
