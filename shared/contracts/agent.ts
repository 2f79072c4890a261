import { z } from "@hono/zod-openapi";

export const HeartbeatRequest = z
  .object({
    machineInfo: z.record(z.string(), z.unknown()).optional(),
    agentVersion: z.string().max(100).optional(),
  })
  .openapi("HeartbeatRequest");
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

export const HeartbeatResponse = z
  .object({
    serverTime: z.string(),
    heartbeatIntervalSeconds: z.number().openapi({ description: "send the next heartbeat within this" }),
  })
  .openapi("HeartbeatResponse");
