using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PaliGemma2.DocPipeline.Documents.Processes;

namespace PaliGemma2.DocPipeline.Documents.Sandbox;

/// <summary>
/// One long-lived <c>docpipe-decode serve</c> process under <c>prlimit</c>: it decodes one file at a time,
/// so the runtime start-up and JIT are paid once per process instead of once per file. Anything but a
/// clean answer (crash, signal, timeout, memory) ends it; <see cref="DecodeSandbox"/> starts another.
/// </summary>
internal sealed class DecodeWorker : IDisposable
{
    private readonly Process _process;
    private readonly CappedText _stderr = new();
    private readonly Task _stdoutPump;
    private readonly Task _stderrPump;
    private TaskCompletionSource<int> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _stderrEnd = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _id;

    private DecodeWorker(Process process)
    {
        _process = process;
        _stdoutPump = Task.Run(PumpStdoutAsync);
        _stderrPump = Task.Run(PumpStderrAsync);
    }

    /// <summary>Files answered so far.</summary>
    public int Served { get; private set; }

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Starts <c>dotnet decoder serve</c> under the address-space and CPU limits.</summary>
    public static DecodeWorker Start(string host, string decoder, ChildProcess.Limits limits)
    {
        // Soft CPU limit for the first file; the decoder moves it before each file (its hard limit stays unlimited).
        var cpu = string.Create(CultureInfo.InvariantCulture, $"{Math.Max(1, limits.CpuSeconds)}:unlimited");
        var psi = ChildProcess.UnderLimits(limits, cpu, [host, decoder, SandboxProtocol.Serve, limits.CpuSeconds.ToString(CultureInfo.InvariantCulture)]);
        psi.RedirectStandardInput = true;
        return new DecodeWorker(Process.Start(psi) ?? throw new InvalidOperationException("prlimit did not start"));
    }

    /// <summary>Decodes one file; the outcome says whether this process may take the next one.</summary>
    public async Task<(ChildProcess.Outcome Outcome, bool Reusable)> RunAsync(IReadOnlyList<string> args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        _stderr.Clear();
        var done = _done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var stderrEnd = _stderrEnd = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var id = Interlocked.Increment(ref _id);
        Served++;
        var exited = _process.WaitForExitAsync(CancellationToken.None);
        try
        {
            await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(new SandboxRequest { Id = id, Args = args }, SandboxProtocol.Json)).ConfigureAwait(false);
            await _process.StandardInput.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // Died before reading the request (runtime could not start): its exit code and stderr say why.
        }

        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        var expired = Task.Delay(Timeout.Infinite, timeoutCts.Token);
        var first = await Task.WhenAny(done.Task, exited, expired).ConfigureAwait(false);
        if (first == done.Task)
        {
            var exit = await done.Task.ConfigureAwait(false);
            // Native messages written before the answer are on stderr before the marker.
            await Task.WhenAny(stderrEnd.Task, exited, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            return (new ChildProcess.Outcome(exit, _stderr.ToString(), TimedOut: false), exit is SandboxProtocol.ExitOk or SandboxProtocol.ExitRejected);
        }

        if (first == exited)
        {
            await Task.WhenAny(Task.WhenAll(_stdoutPump, _stderrPump), Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            return (new ChildProcess.Outcome(_process.ExitCode, _stderr.ToString(), TimedOut: false), false);
        }

        Kill();
        await exited.ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return (new ChildProcess.Outcome(-1, _stderr.ToString(), TimedOut: true), false);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private async Task PumpStdoutAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            // Anything else on stdout is a library talking; only our own line answers a request.
            var parts = line.StartsWith(SandboxProtocol.DonePrefix, StringComparison.Ordinal) ? line[SandboxProtocol.DonePrefix.Length..].Split(' ') : [];
            if (parts.Length == 2
                && long.TryParse(parts[0], CultureInfo.InvariantCulture, out var id) && id == Interlocked.Read(ref _id)
                && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var exit))
            {
                _done.TrySetResult(exit);
            }
        }
    }

    private async Task PumpStderrAsync()
    {
        while (await _process.StandardError.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (line.StartsWith(SandboxProtocol.EndMarker, StringComparison.Ordinal))
            {
                _stderrEnd.TrySetResult();
            }
            else
            {
                _stderr.AppendLine(line);
            }
        }
    }
}
