"""The Python example of the README, run as written by `make python-test`."""

import asyncio

from flightcache import Cache


def authenticate() -> str:
    """Stands in for a call to a third-party API."""
    return "secret-token"


async def authenticate_async() -> str:
    await asyncio.sleep(0.01)
    return "secret-token"


cache = Cache(max_entries=10_000, ttl=7 * 24 * 3600 * 1000)

# Loaded once, however many threads ask at the same time; then served from the cache.
token = cache.get("token", get_value=authenticate, ttl=60_000)
print("token:", token)  # token: secret-token
print("stored:", cache.set("token", token, ttl=60_000))  # stored: True
print("hit:", cache["token"])  # hit: secret-token
print("deleted:", cache.delete("token"))  # deleted: True


async def main() -> None:
    # asyncio: 100 concurrent callers, one call to authenticate_async.
    tokens = await asyncio.gather(
        *(cache.aget("token", get_value=authenticate_async, ttl=60_000) for _ in range(100))
    )
    print("async callers:", len(tokens), "loads:", cache.stats().loads)  # async callers: 100 loads: 2


asyncio.run(main())


@cache.memoize(ttl=60_000)
def repository(owner: str, name: str) -> dict[str, str]:
    return {"full_name": f"{owner}/{name}"}  # an API call in real life


print(repository("octo", "hello")["full_name"])  # octo/hello (loaded)
print(repository("octo", "hello")["full_name"])  # octo/hello (from the cache)
print(cache.stats())
