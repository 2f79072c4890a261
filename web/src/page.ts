import type { FunctionComponent } from "preact";

/**
 * One page of the dashboard, a module of its own (pages/*.tsx): where it lives, its title, whether it is in
 * the navigation, and whether it needs an admin key. Adding a page is adding a module to pages/index.ts.
 */
export interface Page {
  path: string;
  title: string;
  nav: boolean;
  admin?: boolean;
  component: FunctionComponent<{ params: Record<string, string>; query: URLSearchParams }>;
}
