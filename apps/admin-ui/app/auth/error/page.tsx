import type { Metadata } from 'next';

export const metadata: Metadata = { title: 'Sign-in refused' };

/** What each refusal means; the reason in the URL only picks one of these, nothing from it is shown. */
const MESSAGES: Readonly<Record<string, string>> = {
  no_role:
    'You signed in, but your account has none of the groups that give a ShieldX role (viewer, operator, admin). Ask ' +
    'for one, then sign in again.',
  sign_in_failed: 'The identity provider’s answer could not be verified, so you were not signed in.',
  no_sign_in: 'This sign-in was not started here, has expired, or was already used. Start again.',
  provider_error: 'The identity provider could not be reached or refused the sign-in.',
};

/** Why a sign-in did not succeed, with a way to try again. */
export default async function SignInError({ searchParams }: { searchParams: Promise<{ reason?: string }> }) {
  const { reason } = await searchParams;
  const message =
    (reason !== undefined && Object.hasOwn(MESSAGES, reason) ? MESSAGES[reason] : undefined) ??
    'You were not signed in.';
  return (
    <section className="card" aria-labelledby="sign-in-refused">
      <h1 id="sign-in-refused">Not signed in</h1>
      <p role="alert" data-testid="sign-in-error">
        {message}
      </p>
      <p>
        <a href="/auth/login">Sign in</a>
      </p>
    </section>
  );
}
