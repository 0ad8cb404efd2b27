/**
 * The built app behind a TLS-terminating proxy: React Router's custom Express server
 * (`@react-router/express`, as its node-custom-server template) with Express's "trust proxy", so
 * req.protocol follows X-Forwarded-Proto and the Request React Router builds has the https URL
 * the browser used; `getSession(request)` with cookie.secure "auto" then sets Secure.
 * react-router-serve has no such setting: to it every request is http. Run with Node's type
 * stripping: `node server.ts` after `react-router build` (PORT, HOST).
 */
import { createRequestHandler } from "@react-router/express";
import express from "express";

const BUILD = "./build/server/index.js";

const app = express();
app.disable("x-powered-by");
app.set("trust proxy", 1); // one proxy in front: its X-Forwarded-Proto and X-Forwarded-For are the client's
app.use("/assets", express.static("build/client/assets", { immutable: true, maxAge: "1y" }));
app.use(express.static("build/client", { maxAge: "1h" }));
app.all("/{*splat}", createRequestHandler({ build: () => import(BUILD) }));

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "127.0.0.1";
app.listen(port, host, () => console.log(`listening on http://${host}:${port}`));
