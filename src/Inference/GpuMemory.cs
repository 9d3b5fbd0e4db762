using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>
/// GPU memory per device as observable gauges (<c>docpipe.gpu.memory.used</c>, <c>docpipe.gpu.memory.total</c>, label
/// <c>gpu</c> = device index), read from NVIDIA's management library (NVML, <c>libnvidia-ml.so.1</c>), which the
/// driver mounts into a GPU container. ONNX Runtime reports nothing about its CUDA arena, so the device's own figure is
/// what shows a worker growing towards out-of-memory. Where there is no NVIDIA driver nothing is registered.
/// </summary>
public static class GpuMemory
{
    private const string Nvml = "libnvidia-ml.so.1";

    /// <summary>
    /// Adds the gauges to <paramref name="meter"/> when NVML initialises and sees at least one device; returns the
    /// number of devices observed (0: no driver, nothing added).
    /// </summary>
    /// <param name="meter">The host's pipeline meter.</param>
    public static int Observe(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        uint count;
        try
        {
            if (NativeMethods.nvmlInit_v2() != 0 || NativeMethods.nvmlDeviceGetCount_v2(out count) != 0 || count == 0)
            {
                return 0;
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return 0;
        }

        meter.CreateObservableGauge("docpipe.gpu.memory.used", () => Read((int)count, m => m.Used), "By", "GPU memory in use on each device (all processes), from NVML.");
        meter.CreateObservableGauge("docpipe.gpu.memory.total", () => Read((int)count, m => m.Total), "By", "GPU memory of each device, from NVML.");
        return (int)count;
    }

    private static List<Measurement<long>> Read(int count, Func<NvmlMemory, ulong> pick)
    {
        var measurements = new List<Measurement<long>>(count);
        for (var i = 0; i < count; i++)
        {
            // A device that stops answering (reset, fell off the bus) is left out of this scrape rather than reported as 0.
            if (NativeMethods.nvmlDeviceGetHandleByIndex_v2((uint)i, out var device) == 0
                && NativeMethods.nvmlDeviceGetMemoryInfo(device, out var memory) == 0)
            {
                measurements.Add(new Measurement<long>((long)pick(memory), new KeyValuePair<string, object?>("gpu", i.ToString(System.Globalization.CultureInfo.InvariantCulture))));
            }
        }

        return measurements;
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct NvmlMemory
    {
        public readonly ulong Total;
        public readonly ulong Free;
        public readonly ulong Used;
    }

    private static class NativeMethods
    {
        [DllImport(Nvml, ExactSpelling = true)]
        internal static extern int nvmlInit_v2();

        [DllImport(Nvml, ExactSpelling = true)]
        internal static extern int nvmlDeviceGetCount_v2(out uint count);

        [DllImport(Nvml, ExactSpelling = true)]
        internal static extern int nvmlDeviceGetHandleByIndex_v2(uint index, out IntPtr device);

        [DllImport(Nvml, ExactSpelling = true)]
        internal static extern int nvmlDeviceGetMemoryInfo(IntPtr device, out NvmlMemory memory);
    }
}
