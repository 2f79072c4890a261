import { z } from "@hono/zod-openapi";

/**
 * `POST /api/v1/login`, GPUd's wire shape (see specs/agent-protocol.md §1). The handler parses the body
 * step by step to give GPUd's exact messages in GPUd's order; this schema documents it and parses the
 * parts that have a fixed shape. Unknown keys are ignored. Strings are bounded (the usecase checks the
 * same bounds, with GPUd's style of message); a machine info of more than 64 KiB is summarised, not kept.
 */
export const LoginRequest = z
  .looseObject({
    token: z.string().max(256).optional(),
    machineID: z.string().max(128).optional(),
    nodeGroup: z.string().max(128).optional(),
    nodeLabels: z.record(z.string(), z.unknown()).nullable().optional(),
    network: z
      .object({ publicIP: z.string().max(256).optional(), privateIP: z.string().max(256).optional() })
      .partial()
      .optional(),
    location: z
      .object({ region: z.string().max(256).optional(), zone: z.string().max(256).optional() })
      .partial()
      .optional(),
    provider: z.string().max(256).optional(),
    providerInstanceID: z.string().max(256).optional(),
    resources: z.record(z.string(), z.string().max(64)).optional(),
    machineInfo: z.record(z.string(), z.unknown()).nullable().optional(),
    publicKey: z
      .string()
      .max(256)
      .optional()
      .openapi({ description: "Berth agent: base64 ed25519 public key" }),
    encryptionKey: z
      .string()
      .max(256)
      .optional()
      .openapi({ description: "Berth agent: base64 X25519 public key" }),
    refreshSessionToken: z
      .boolean()
      .optional()
      .openapi({ description: "Berth agent: rotate the session token (the old one stops working)" }),
    agentVersion: z.string().max(100).optional(),
    protocol: z.number().int().min(1).max(1000).optional().openapi({
      description: "Berth agent: the newest agent protocol it speaks (2); absent: 1 (GPUd)",
    }),
  })
  .openapi("LoginRequest");
export type LoginRequest = z.infer<typeof LoginRequest>;

export const LoginResponse = z
  .object({
    machineID: z.string(),
    token: z.string().openapi({ description: "the session token" }),
    controlPlaneKey: z.string().openapi({ description: "base64 ed25519 public key that signs reservations" }),
    agentEndpoint: z.string().optional().openapi({
      description:
        "Berth agent (protocol 2): where to send every later request (polls, feedback, relogins), when it is not the URL it logged in at (AWS: the agent function or service)",
    }),
    protocol: z
      .number()
      .int()
      .optional()
      .openapi({ description: "when the request named one: the protocol agreed (how the feed is signed)" }),
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
