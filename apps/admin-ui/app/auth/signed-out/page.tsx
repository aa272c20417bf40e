import type { Metadata } from 'next';

export const metadata: Metadata = { title: 'Signed out' };

/** After sign-out. */
export default function SignedOut() {
  return (
    <section className="card" aria-labelledby="signed-out">
      <h1 id="signed-out">Signed out</h1>
      <p data-testid="signed-out">
        You are signed out of the ShieldX admin UI. Your session at the identity provider is not ended here.
      </p>
      <p>
        <a href="/auth/login">Sign in again</a>
      </p>
    </section>
  );
}
