/**
 * Storage-level paging. The cursor is the adapter's own position (for DynamoDB, the key of the last
 * item returned); the app wraps it in a signed, opaque page token and never looks inside.
 */
export type Cursor = Record<string, unknown>;

export interface PageRequest {
  limit: number;
  cursor?: Cursor;
}

export interface Page<T> {
  items: T[];
  /** Present when more items may follow. */
  cursor?: Cursor;
}
