// index.ts - the API module: all HTTP and SSE access of the app.
export { ApiError, http } from './http';
export * from './types';
export * as authApi from './auth';
export * as usersApi from './users';
export * as tokensApi from './tokens';
export * as auditApi from './audit';
export { subscribe } from './sse';
