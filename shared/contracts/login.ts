import { z } from "@hono/zod-openapi";

/**
 * `POST /api/v1/login`, GPUd's wire shape (see specs/agent-protocol.md §1). The handler parses the body
 * step by step to give GPUd's exact messages in GPUd's order; this schema documents it and parses the
 * parts that have a fixed shape. Unknown keys are ignored.
 */
export const LoginRequest = z
  .looseObject({
    token: z.string().optional(),
    machineID: z.string().optional(),
    nodeGroup: z.string().optional(),
    nodeLabels: z.record(z.string(), z.unknown()).nullable().optional(),
    network: z
      .object({ publicIP: z.string().optional(), privateIP: z.string().optional() })
      .partial()
      .optional(),
    location: z.object({ region: z.string().optional(), zone: z.string().optional() }).partial().optional(),
    provider: z.string().optional(),
    providerInstanceID: z.string().optional(),
    resources: z.record(z.string(), z.string()).optional(),
    machineInfo: z.record(z.string(), z.unknown()).nullable().optional(),
    publicKey: z.string().optional().openapi({ description: "Berth agent: base64 ed25519 public key" }),
    encryptionKey: z.string().optional().openapi({ description: "Berth agent: base64 X25519 public key" }),
    refreshSessionToken: z
      .boolean()
      .optional()
      .openapi({ description: "Berth agent: rotate the session token (the old one stops working)" }),
    agentVersion: z.string().optional(),
  })
  .openapi("LoginRequest");
export type LoginRequest = z.infer<typeof LoginRequest>;

export const LoginResponse = z
  .object({
    machineID: z.string(),
    token: z.string().openapi({ description: "the session token" }),
    controlPlaneKey: z.string().openapi({ description: "base64 ed25519 public key that signs reservations" }),
    validationResults: z
      .array(z.object({ name: z.string(), valid: z.boolean(), reason: z.string(), suggestion: z.string() }))
      .optional(),
  })
  .openapi("LoginResponse");
export type LoginResponse = z.infer<typeof LoginResponse>;

/** GPUd's error body: only strings; `code`/`status` and `message`/`error` repeat each other. */
export const LoginError = z
  .object({ code: z.string(), status: z.string(), message: z.string(), error: z.string() })
  .openapi("LoginError");
