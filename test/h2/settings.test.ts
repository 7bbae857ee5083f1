/** settings.ts: our SETTINGS, and the peer's applied in order. */
import t from 'tap'
import { SettingsId } from '../../src/h2/frame.js'
import { PeerSettings, localSettings } from '../../src/h2/settings.js'

t.test('peer SETTINGS apply in order; net INITIAL_WINDOW_SIZE delta', async (t) => {
  const peer = new PeerSettings()
  t.equal(peer.maxConcurrentStreams, Infinity)
  const change = peer.apply([
    [SettingsId.INITIAL_WINDOW_SIZE, 100],
    [SettingsId.INITIAL_WINDOW_SIZE, 70_000],
    [SettingsId.MAX_FRAME_SIZE, 20_000],
    [SettingsId.HEADER_TABLE_SIZE, 0],
    [SettingsId.MAX_CONCURRENT_STREAMS, 7],
    [SettingsId.MAX_HEADER_LIST_SIZE, 1000],
    [SettingsId.ENABLE_PUSH, 0],
    [SettingsId.ENABLE_CONNECT_PROTOCOL, 1],
    [SettingsId.NO_RFC7540_PRIORITIES, 1],
  ])
  t.same(change, { windowDelta: 70_000 - 65_535, headerTableSize: 0, maxFrameSize: 20_000, concurrencyChanged: true })
  t.match(peer, { maxConcurrentStreams: 7, maxHeaderListSize: 1000, enablePush: 0, enableConnectProtocol: 1, received: 1 })
  t.same(peer.apply([]), { windowDelta: 0, headerTableSize: -1, maxFrameSize: -1, concurrencyChanged: false })
  t.same(localSettings({ initialWindowSize: 65_535, maxHeaderListSize: 10 }), [
    [SettingsId.ENABLE_PUSH, 0],
    [SettingsId.MAX_HEADER_LIST_SIZE, 10],
  ])
  t.same(localSettings({ initialWindowSize: 1 << 20, maxHeaderListSize: 10 }), [
    [SettingsId.ENABLE_PUSH, 0],
    [SettingsId.INITIAL_WINDOW_SIZE, 1 << 20],
    [SettingsId.MAX_HEADER_LIST_SIZE, 10],
  ])
})

