import { type RouteConfig, index, route } from "@react-router/dev/routes";

export default [
  index("routes/home.tsx"),
  route("sign-in", "routes/sign-in.tsx"),
  route("sign-out", "routes/sign-out.tsx"),
  route("visit", "routes/visit.ts"),
  route("devices", "routes/devices.ts"),
  route("store", "routes/store.ts"),
  route("host", "routes/host.ts"),
  route("api/sign-in", "routes/api-sign-in.ts"),
  route("api/every-member", "routes/api-every-member.ts"),
] satisfies RouteConfig;
