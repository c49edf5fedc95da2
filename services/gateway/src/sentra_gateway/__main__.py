"""python -m sentra_gateway: run the gateway (Sentra's public entry point)."""

from sentra_common.runtime import main

from sentra_gateway.app import SERVICE, gateway_app
from sentra_gateway.config import GatewaySettings

if __name__ == "__main__":
    main(SERVICE, GatewaySettings, gateway_app)
