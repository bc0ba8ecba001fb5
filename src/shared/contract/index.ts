// The single API contract between the renderer and the lab: one table of methods, each with a zod schema for its
// request and its response. The preload passes calls through untouched; the IPC router (Electron) and the
// WebSocket router (browser mode) validate every argument against this table before anything reaches the lab
// services, and the CLI uses the same argument shapes.
//
// Plain JSON only. Errors cross the boundary as { message, kind, fields? } in words, never stacks.
//
// NOTE for the renderer: under a strict CSP, zod must be configured with `jitless: true` before any schema is built
// (src/renderer/src/zodConfig.ts, imported first by the renderer entry).
//
// One file per concern, each importing only the ones above it in this list (no cycle):
export * from './limits'
export * from './words'
export * from './enums'
export * from './errors'
export * from './jobs'
export { modelRef, isAbsolutePath, stepSize, lrList } from './fields'
export type { ModelRef } from './fields'
export * from './records'
export * from './requests'
export * from './results'
export * from './study'
export * from './files'
export * from './methods'
export * from './transport'
