import type { DevicePrincipal, Principal, UserPrincipal } from "../domain/principal.ts";

/** Per-request values set by middleware. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** Whoever authenticated (for logs and page-token binding). */
    principal: Principal;
    /** Set by requireUser. */
    user: UserPrincipal;
    /** Set by requireDevice. */
    device: DevicePrincipal;
    /** True when the operator token was presented (the process-wide metrics). */
    operator: boolean;
    /** How errors are rendered: Berth's envelope, or GPUd's flat string object on /api/v1/login. */
    errorStyle: "envelope" | "gpud";
  };
}
