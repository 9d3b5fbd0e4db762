using System.Diagnostics;
using System.Text;

namespace PaliGemma2.DocPipeline.Documents.Processes;

/// <summary>
/// Runs a tool out of process under a wall-clock timeout and an address-space limit (via
/// util-linux <c>prlimit</c>), so a hostile file can hang or balloon the tool but not us.
/// </summary>
public static class ChildProcess
{
    /// <summary>Outcome of a run.</summary>
    /// <param name="ExitCode">Exit status (128 + signal number when a signal ended it); -1 when killed on timeout.</param>
    /// <param name="StdErr">Last part of standard error.</param>
    /// <param name="TimedOut">Whether the timeout killed it.</param>
    public sealed record Outcome(int ExitCode, string StdErr, bool TimedOut)
    {
        /// <summary>Standard output, when the run asked for it (first 64 KiB).</summary>
        public string StdOut { get; init; } = "";
    }

    /// <summary>Runs <paramref name="fileName"/> with arguments, limited in time and memory.</summary>
    public static Task<Outcome> RunAsync(
        string fileName, IEnumerable<string> arguments, TimeSpan timeout, long memoryLimitBytes, CancellationToken cancellationToken) =>
        RunAsync(fileName, arguments, new Limits(timeout, memoryLimitBytes), cancellationToken);

    /// <summary>Limits of one run.</summary>
    /// <param name="Timeout">Wall-clock limit; the process tree is killed after it.</param>
    /// <param name="MemoryLimitBytes">Address-space limit (RLIMIT_AS).</param>
    /// <param name="CpuSeconds">CPU-time limit (RLIMIT_CPU, SIGXCPU then SIGKILL); 0 for none.</param>
    /// <param name="Environment">Extra environment variables for the child.</param>
    public sealed record Limits(TimeSpan Timeout, long MemoryLimitBytes, int CpuSeconds = 0, IReadOnlyDictionary<string, string>? Environment = null);

    /// <summary>
    /// <c>prlimit --as=… [--cpu=<paramref name="cpu"/>] -- command…</c> with the limits' environment, standard output and
    /// error redirected: how every child that reads untrusted bytes is started.
    /// </summary>
    internal static ProcessStartInfo UnderLimits(Limits limits, string? cpu, IEnumerable<string> command)
    {
        var psi = new ProcessStartInfo("prlimit")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add($"--as={limits.MemoryLimitBytes}");
        if (cpu is not null)
        {
            psi.ArgumentList.Add($"--cpu={cpu}");
        }

        foreach (var (key, value) in limits.Environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }

        psi.ArgumentList.Add("--");
        foreach (var a in command)
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    /// <summary>Runs <paramref name="fileName"/> with arguments under <paramref name="limits"/>.</summary>
    public static async Task<Outcome> RunAsync(
        string fileName, IEnumerable<string> arguments, Limits limits, CancellationToken cancellationToken, bool captureStdout = false)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(limits);
        var timeout = limits.Timeout;
        var cpu = limits.CpuSeconds > 0 ? limits.CpuSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        var psi = UnderLimits(limits, cpu, [fileName, .. arguments]);

        using var process = new Process { StartInfo = psi };
        var stderr = new CappedText();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                stderr.AppendLine(e.Data);
            }
        };
        var stdout = new StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            if (captureStdout && e.Data is not null)
            {
                lock (stdout)
                {
                    if (stdout.Length < 65536)
                    {
                        stdout.AppendLine(e.Data);
                    }
                }
            }
        };
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();

        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(timeoutCts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return new Outcome(-1, stderr.ToString(), TimedOut: true);
        }

        // WaitForExitAsync returns once the output pipes are drained too, so both texts are complete here.
        lock (stdout)
        {
            return new Outcome(process.ExitCode, stderr.ToString(), TimedOut: false) { StdOut = stdout.ToString() };
        }
    }
}
