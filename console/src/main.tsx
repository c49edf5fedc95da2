// Start: read the gateway's console settings, finish a login that comes back from the realm,
// then show the login screen or the console.
import { render } from "preact";

import { Auth } from "./auth";
import { loadConfig } from "./config";
import { BASE, currentPath } from "./router";
import { Root } from "./root";
import { errorText } from "./ui";
import "./styles.css";

async function boot(root: HTMLElement): Promise<void> {
  let auth: Auth;
  try {
    auth = new Auth(await loadConfig());
  } catch (error) {
    render(
      <main class="fatal">
        <h1>Sentra</h1>
        <p role="alert">{errorText(error)}</p>
      </main>,
      root,
    );
    return;
  }
  let loginError = "";
  if (currentPath() === "callback") {
    try {
      const back = await auth.completeLogin(new URL(location.href));
      history.replaceState(null, "", BASE + back);
    } catch (error) {
      loginError = errorText(error);
      history.replaceState(null, "", BASE);
    }
  }
  render(<Root auth={auth} loginError={loginError} />, root);
}

void boot(document.getElementById("app") as HTMLElement);
