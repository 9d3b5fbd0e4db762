using System.Diagnostics.Metrics;
using PaliGemma2.DocPipeline.Inference;
using Xunit;

namespace PaliGemma2.DocPipeline.Inference.Tests;

public sealed class GpuMemoryTests
{
    [Fact]
    public void Gpu_memory_gauges_exist_exactly_when_nvml_sees_a_device_and_report_used_within_total()
    {
        using var meter = new Meter("test.gpu." + Guid.NewGuid().ToString("N"));
        var used = new List<(long Value, string Gpu)>();
        var total = new List<(long Value, string Gpu)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var gpu = tags.ToArray().Single(t => t.Key == "gpu").Value as string ?? "";
            (instrument.Name == "docpipe.gpu.memory.used" ? used : total).Add((value, gpu));
        });
        listener.Start();

        var devices = GpuMemory.Observe(meter);
        listener.RecordObservableInstruments();

        // This machine may or may not have an NVIDIA driver: either way the gauges must match what NVML said.
        Assert.Equal(devices, used.Count);
        Assert.Equal(devices, total.Count);
        for (var i = 0; i < devices; i++)
        {
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), used[i].Gpu);
            Assert.InRange(used[i].Value, 1, total[i].Value);
        }

        Assert.Equal(devices == 0, !File.Exists("/proc/driver/nvidia/version"));
    }
}
