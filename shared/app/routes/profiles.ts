import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import {
  CreateProfileRequest,
  ListProfilesQuery,
  ProfileNameParam,
  ProfilePage,
  ProfileView,
  UpdateProfileRequest,
} from "../../contracts/profiles.ts";
import {
  createProfile,
  deleteProfile,
  getProfile,
  listProfiles,
  updateProfile,
} from "../../usecases/jobs/profiles.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { errorResponses, json, jsonBody } from "../openapi.ts";
import { listPage } from "../pagination.ts";
import { access, workspaceOf } from "./access.ts";

/** `/api/v1/profiles`: resource profiles. Anyone may read them; changing them needs an admin key. */
export function profileRoutes(deps: AppDeps) {
  const { read, write } = access(deps, "profiles");
  const ws = workspaceOf;
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...write,
        method: "post",
        path: "/profiles",
        summary: "Create a resource profile",
        request: { body: jsonBody(CreateProfileRequest) },
        responses: { 201: json("the profile", ProfileView), ...errorResponses(400, 401, 403, 409) },
      }),
      async (c) => c.json(await createProfile(deps, ws(c), c.req.valid("json")), 201),
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/profiles",
        summary: "List resource profiles",
        request: { query: ListProfilesQuery },
        responses: { 200: json("a page of profiles", ProfilePage), ...errorResponses(400, 401) },
      }),
      async (c) =>
        c.json(
          await listPage(deps, c, c.req.valid("query"), {}, (page) => listProfiles(deps, ws(c), page)),
          200,
        ),
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/profiles/{name}",
        summary: "Get a resource profile",
        request: { params: ProfileNameParam },
        responses: { 200: json("the profile", ProfileView), ...errorResponses(401, 404) },
      }),
      async (c) => c.json(await getProfile(deps, ws(c), c.req.valid("param").name), 200),
    )
    .openapi(
      createRoute({
        ...write,
        method: "patch",
        path: "/profiles/{name}",
        summary: "Update a resource profile (jobs already submitted keep what they got)",
        request: { params: ProfileNameParam, body: jsonBody(UpdateProfileRequest) },
        responses: { 200: json("the profile", ProfileView), ...errorResponses(400, 401, 403, 404) },
      }),
      async (c) =>
        c.json(await updateProfile(deps, ws(c), c.req.valid("param").name, c.req.valid("json")), 200),
    )
    .openapi(
      createRoute({
        ...write,
        method: "delete",
        path: "/profiles/{name}",
        summary: "Delete a resource profile",
        request: { params: ProfileNameParam },
        responses: { 204: { description: "deleted" }, ...errorResponses(401, 403, 404) },
      }),
      async (c) => {
        await deleteProfile(deps, ws(c), c.req.valid("param").name);
        return c.body(null, 204);
      },
    );
}
