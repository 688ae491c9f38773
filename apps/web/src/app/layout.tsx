import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import 'uplot/dist/uPlot.min.css';
import '@xyflow/react/dist/style.css';
import './globals.css';
import { Providers } from './providers.tsx';
import { Nav } from '../components/Nav.tsx';

export const metadata: Metadata = {
  title: { default: 'Cairn', template: '%s · Cairn' },
  description: 'Experiments, datasets, training queues and models',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Providers>
          <div className="shell">
            <Nav />
            <main className="main" id="main">
              {children}
            </main>
          </div>
        </Providers>
      </body>
    </html>
  );
}
