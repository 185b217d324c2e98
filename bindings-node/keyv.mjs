// ESM entry of `flightcache/keyv`: the same class as the CommonJS one.
import keyv from './keyv.js'

export const { KeyvFlightcache } = keyv
export default KeyvFlightcache
