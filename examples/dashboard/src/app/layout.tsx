import type { Metadata } from 'next'
import type { ReactNode } from 'react'
import './globals.css'

export const metadata: Metadata = {
  title: 'nself dashboard (nself-realtime example)',
  description: 'A live dashboard on nself-realtime: a Socket.IO hub inside the Next.js process',
}

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  )
}
