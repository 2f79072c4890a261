import { z } from "zod";
import { LAUNCHERS } from "./cloud-reservation.ts";
import { Constraint, Gpus, ResourceLimit } from "./job.ts";

/** A resource profile as stored (jobs.md §8): a named size jobs can ask for by name. */
export const Profile = z.object({
  name: z.string(),
  displayName: z.string(),
  limits: z.array(ResourceLimit),
  gpus: Gpus.optional(),
  queue: z.string().optional(),
  placementConstraints: z.array(Constraint),
  cloudLauncher: z.enum(LAUNCHERS).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Profile = z.infer<typeof Profile>;
