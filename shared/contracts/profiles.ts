import { z } from "@hono/zod-openapi";
import { LAUNCHERS } from "../domain/cloud-reservation.ts";
import { Constraint, Gpus, ResourceLimit } from "../domain/job.ts";
import { Profile } from "../domain/profile.ts";
import { PageQuery, pageOf } from "./common.ts";

const Name = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be 1-63 lower-case letters, digits or '-'");

/** A named size (jobs.md §8): jobs naming it get its limits, GPUs, queue and constraints. */
export const ProfileFields = z.object({
  displayName: z.string().max(200).default(""),
  limits: z.array(ResourceLimit).default([]),
  gpus: Gpus.extend({ count: z.number().int().min(0).max(64) }).optional(),
  queue: z.string().optional(),
  placementConstraints: z.array(Constraint).default([]),
  /** Which cloud capacity its jobs use when they go to the cloud (default: the control plane's). */
  cloudLauncher: z.enum(LAUNCHERS).optional(),
});

export const CreateProfileRequest = ProfileFields.extend({
  name: Name.refine((n) => n !== "custom", '"custom" means "no profile" and cannot be defined'),
}).openapi("CreateProfileRequest");
export type CreateProfileRequest = z.infer<typeof CreateProfileRequest>;

export const UpdateProfileRequest = ProfileFields.partial().openapi("UpdateProfileRequest");
export type UpdateProfileRequest = z.infer<typeof UpdateProfileRequest>;

export const ProfileView = Profile.extend({}).openapi("Profile");
export type ProfileView = z.infer<typeof ProfileView>;

export const ProfilePage = pageOf(ProfileView).openapi("ProfilePage");
export const ListProfilesQuery = PageQuery;
export const ProfileNameParam = z.object({
  name: z
    .string()
    .min(1)
    .openapi({ param: { name: "name", in: "path" } }),
});
