using Microsoft.Extensions.Logging;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>CUDA is tried first; when it cannot load, the CPU fallback is logged, never silent.</summary>
public sealed class ExecutionProviderTests
{
    [Fact]
    public void Cuda_attempt_falls_back_to_cpu_with_a_warning()
    {
        var logger = new ListLogger();
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint("224"), logger, new PaliGemmaLoadOptions { PreferCuda = true });
        if (model.ExecutionProvider == "CPU")
        {
            Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("falling back to CPU", StringComparison.Ordinal));
        }
        else
        {
            Assert.Equal("CUDA", model.ExecutionProvider);
            Assert.DoesNotContain(logger.Entries, e => e.Level == LogLevel.Warning);
        }

        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Information && e.Message.Contains(model.ExecutionProvider, StringComparison.Ordinal));
    }

    [Fact]
    public void Required_cuda_refuses_to_load_when_cuda_cannot_be_loaded_instead_of_falling_back()
    {
        // DOCPIPE_EXPECT_CUDA=1 (set on a GPU machine) turns a refusal into a failure: there the fallback
        // itself is the bug this switch exists to catch.
        var expectCuda = Environment.GetEnvironmentVariable("DOCPIPE_EXPECT_CUDA") == "1";
        var cudaLibraries = System.Runtime.InteropServices.NativeLibrary.TryLoad("libcudart.so.13", out var handle);
        if (cudaLibraries)
        {
            System.Runtime.InteropServices.NativeLibrary.Free(handle);
        }

        var logger = new ListLogger();
        var options = new PaliGemmaLoadOptions { PreferCuda = false, RequireCuda = true };
        if (!cudaLibraries && !expectCuda)
        {
            var ex = Assert.Throws<InvalidOperationException>(() => PaliGemmaModel.Load(TestEnvironment.Checkpoint("224"), logger, options));
            Assert.Contains("CUDA is required", ex.Message, StringComparison.Ordinal);
            Assert.Contains("libcudart.so.13", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(logger.Entries, e => e.Message.Contains("falling back to CPU", StringComparison.Ordinal));
            return;
        }

        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint("224"), logger, options);
        Assert.Equal("CUDA", model.ExecutionProvider);
    }

    [Fact]
    public void Cpu_only_load_logs_no_warning()
    {
        var logger = new ListLogger();
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint("224-community"), logger, new PaliGemmaLoadOptions { PreferCuda = false });
        Assert.Equal("CPU", model.ExecutionProvider);
        Assert.False(model.SupportsBatching);
        Assert.DoesNotContain(logger.Entries, e => e.Level >= LogLevel.Warning);
    }

    private sealed class ListLogger : ILogger
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries)
            {
                Entries.Add((logLevel, formatter(state, exception)));
            }
        }
    }
}
