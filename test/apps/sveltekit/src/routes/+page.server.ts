import { redirect } from "@sveltejs/kit";
import type { Actions, PageServerLoad } from "./$types";

export const load: PageServerLoad = ({ locals }) => ({
  user: locals.session.get("user") ?? null,
  views: locals.session.get("views") ?? 0,
});

export const actions: Actions = {
  count: ({ locals }) => {
    locals.session.set("views", (locals.session.get("views") ?? 0) + 1);
  },
  signin: async ({ locals, request }) => {
    const name = String((await request.formData()).get("name"));
    await locals.session.regenerate(); // a new id on sign-in: no session fixation
    locals.session.set("user", name);
    redirect(303, "/");
  },
  signout: async ({ locals }) => {
    await locals.session.destroy();
    redirect(303, "/");
  },
};
