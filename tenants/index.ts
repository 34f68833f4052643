export * from './authorization.js';
export * from './tokens.js';
