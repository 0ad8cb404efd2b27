import type { SessionLocals } from "sessionkit/sveltekit";

declare global {
  namespace App {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the App.Locals pattern SvelteKit documents
    interface Locals extends SessionLocals<{ user?: string; views?: number }> {}
  }
}

export {};
