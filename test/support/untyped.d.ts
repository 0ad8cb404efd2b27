/**
 * Minimal typings for test-only dependencies that ship none. @types/express-session is
 * deliberately not installed: its `Express.Request.session` would clash with sessionkit's.
 * connect-redis ships its own types, which import `Store` and `SessionData` from here.
 */
declare module "express-session" {
  import type { RequestHandler } from "express";

  namespace session {
    interface SessionData {
      cookie?: { expires?: string | Date | null; originalMaxAge?: number | null; path?: string; httpOnly?: boolean };
      [key: string]: unknown;
    }
    class Store {
      get(sid: string, callback: (error: unknown, session?: SessionData | null) => void): void;
      set(sid: string, session: SessionData, callback?: (error?: unknown) => void): void;
      destroy(sid: string, callback?: (error?: unknown) => void): void;
    }
    class MemoryStore extends Store {}
    interface SessionOptions {
      secret: string | string[];
      store?: Store;
      name?: string;
      resave?: boolean;
      saveUninitialized?: boolean;
    }
  }
  function session(options: session.SessionOptions): RequestHandler;
  export = session;
}

declare module "session-file-store" {
  import type session from "express-session";

  interface FileStoreOptions {
    path: string;
    retries?: number;
    reapInterval?: number;
    logFn?: (...args: unknown[]) => void;
  }
  function fileStoreFactory(expressSession: typeof session): new (options: FileStoreOptions) => session.Store;
  export = fileStoreFactory;
}

declare module "dynalite" {
  import type { Server } from "node:http";

  interface DynaliteOptions {
    /** Milliseconds a table stays CREATING/DELETING/UPDATING; default 500. */
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    /** A LevelDB directory; in memory without it. */
    path?: string;
  }
  function dynalite(options?: DynaliteOptions): Server;
  export = dynalite;
}
