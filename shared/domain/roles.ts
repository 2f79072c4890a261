/**
 * API key roles: `admin` may do everything in its workspace, `member` its own jobs and reading devices,
 * `metrics` only scrape `GET /metrics` (a Prometheus server's credential, useless for anything else).
 */
export const Role = { admin: "admin", member: "member", metrics: "metrics" } as const;
export type Role = (typeof Role)[keyof typeof Role];

export const ROLES = [Role.admin, Role.member, Role.metrics] as const;

/** Whether a principal with `role` may use a route that requires `required`. */
export const roleAllows = (role: Role, required: Role): boolean => role === Role.admin || role === required;
