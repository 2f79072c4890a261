import { createContext } from "preact";
import { useContext } from "preact/hooks";

/** The signed-in key (GET /api/v1/whoami): admin pages and actions are shown to admin keys only. */
export interface Who {
  workspaceId: string;
  keyId: string;
  name: string;
  role: "admin" | "member" | "metrics";
}
export const WhoContext = createContext<Who>({ workspaceId: "", keyId: "", name: "", role: "member" });
export const useWho = () => useContext(WhoContext);

/** The query that lists everyone's jobs for an admin key (a member key sees its own jobs only). */
export const everyone = (who: Who): { user?: string } => (who.role === "admin" ? { user: "*" } : {});
