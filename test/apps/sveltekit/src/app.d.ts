import type { SessionLocals } from "sessionkit/sveltekit";

/** The app's data; a, b, c and kept are written by POST /api/every-member. */
interface AppSession {
  user?: string;
  views?: number;
  a?: number;
  b?: number;
  c?: number;
  kept?: boolean;
}

declare global {
  namespace App {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the App.Locals pattern SvelteKit documents
    interface Locals extends SessionLocals<AppSession> {}
  }
}

export {};
