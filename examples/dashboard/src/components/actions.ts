/** POSTs to one of the action routes; resolves to an error message, or null when accepted. */
export async function post(url: string, body?: unknown): Promise<string | null> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (res.ok) return null
    const json = (await res.json().catch(() => null)) as { error?: string } | null
    return json?.error ?? `${res.status} ${res.statusText}`
  } catch (err) {
    return (err as Error).message
  }
}
