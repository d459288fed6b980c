import { nativeSnapshotter } from '../../../plugins/snapshotter-native/index.ts';
import { snapshotterSuite } from '../../core/layer/snapshotter-suite.ts';

snapshotterSuite('native', nativeSnapshotter);
