export { HttpError } from './http-error.ts';
export { checkJsonContentType, isJsonContentType } from './content-type.ts';
export { parseJsonBody, parseOptionalJsonBody } from './json.ts';
export { discardRest, readNodeBody } from './node-body.ts';
export { readRequestBody, withRequestBody } from './fetch-body.ts';
