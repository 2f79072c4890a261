import { z } from "@hono/zod-openapi";
import { PublishedPort } from "../domain/job-network.ts";

/**
 * `GET /api/v1/jobs/{id}/network`: the Launcher's JobNetworkResponse (`ipAddresses` never null, `endpoints`
 * `<ip>:<port>/<protocol>`), and Berth's extras under `berth`.
 */
export const JobNetworkView = z
  .object({
    host: z
      .string()
      .openapi({ description: "the device's hostname (else its name), the EC2 instance, the node" }),
    ipAddresses: z.array(z.string()),
    endpoints: z.array(z.string()).optional(),
    berth: z.object({
      target: z.enum(["fleet", "ecs", "eks"]),
      partial: z.boolean().openapi({ description: "something is not known: `missing` says what" }),
      missing: z.string().optional(),
      ports: z.array(PublishedPort.extend({})).optional(),
    }),
  })
  .openapi("JobNetwork");
export type JobNetworkView = z.infer<typeof JobNetworkView>;
