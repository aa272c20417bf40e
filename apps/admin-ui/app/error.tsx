'use client';

/** Shown when a page failed to render; the retry renders it again. */
export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <section className="notice notice-error" role="alert">
      <h1>Something went wrong</h1>
      <p>{error.message || 'The page could not be shown.'}</p>
      <button type="button" onClick={reset}>
        Try again
      </button>
    </section>
  );
}
