// The contract lives in src/shared/contract/ (one file per concern); this module is its one entry for the app,
// the CLI and the tests.
export * from './contract'
