// Invoke a long running command on an in-process SKA device simulator and print its updates.
import { invokeLrc, type LrcUpdate, ResultCode, SkaDeviceSimulator, taskStatusName } from '../../src/index.js';

const device = new SkaDeviceSimulator({ name: 'test/lrc/1', commands: {
  On: async (task) => {
    for (const p of [33, 66]) { await task.sleep(200); task.progress(p); }
    return [ResultCode.OK, 'On command completed OK'];
  },
} });
const print = ({ status, ...rest }: LrcUpdate) => console.log(status === undefined ? '' : taskStatusName(status), rest);
await (await invokeLrc(print, device, 'On')).finished;
await device.close();
