using Microsoft.Extensions.Logging;

namespace PaliGemma2.DocPipeline.Inference;

internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Loaded checkpoint {Name} {Version} ({Resolution} px, {Layers} layers) on {Provider}; batching {Batching}")]
    public static partial void Loaded(ILogger logger, string name, string version, int resolution, int layers, string provider, bool batching);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "CUDA execution provider could not be loaded ({Reason}); falling back to CPU")]
    public static partial void CudaFallback(ILogger logger, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Generated batch of {Batch}: prefill {PrefillMs:F1} ms, {Steps} decode steps, total {TotalMs:F1} ms")]
    public static partial void Generated(ILogger logger, int batch, double prefillMs, int steps, double totalMs);
}
