'use client'
import { useEffect } from 'react'
import { usePresence } from '@/hooks/usePresence'
import { useWebSocket } from '@/hooks/useWebSocket'

/** Who else has this dashboard open (presence in the project room). */
export function Viewers({ room, page }: { room: string; page: string }) {
  const { client } = useWebSocket()
  useEffect(() => {
    client.setPresence({ page, since: new Date().toISOString() })
  }, [client, page])
  const { others, joined, error } = usePresence(room)
  return (
    <div className="viewers" data-testid="viewers">
      {error ? (
        <span className="muted">presence unavailable: {error.message}</span>
      ) : !joined ? (
        <span className="muted">joining {room}…</span>
      ) : others.length === 0 ? (
        <span className="muted">only you are viewing</span>
      ) : (
        <>
          <span className="muted">also viewing:</span>
          {others.map((m) => (
            <span key={m.socketId} className="viewer" title={`${m.userId} ${m.socketId}`}>
              {m.userId}·{m.socketId.slice(0, 4)} on {String(m.state?.page ?? '?')}
            </span>
          ))}
        </>
      )}
    </div>
  )
}
