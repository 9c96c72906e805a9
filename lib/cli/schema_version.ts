/**
 * The `schemaVersion` of every `--json` output: bumped when a field is removed or changes meaning;
 * new fields may appear without a bump. Kept apart from json_shapes.ts so a command's start does
 * not build the schemas.
 */
export const JSON_SCHEMA_VERSION = 1;
