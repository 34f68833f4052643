export * from './common.js';
export * from './zone.js';
export * from './tenant.js';
export * from './policies/index.js';
