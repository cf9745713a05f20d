// main.tsx - entry point: start the router, ask the server who we are,
// render the app.
import { render } from 'preact';
import './index.css';
import { App } from './App';
import { startRouter } from './state/router';
import { boot } from './state/session';

startRouter();
void boot();
render(<App />, document.getElementById('app')!);
